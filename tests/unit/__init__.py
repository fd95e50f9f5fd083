"""Fast tests of the package without HTTP, mirroring aidservice/ (engine, services by area, jobs, demo)."""
