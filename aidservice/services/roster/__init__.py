"""The roster: schools and students, their payloads, the import of files, the directory officers search."""
