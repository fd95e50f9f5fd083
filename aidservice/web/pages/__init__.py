"""The queries behind the web pages only (dashboard, report page, rules overview): services in shape, used by nothing but aidservice.web."""
