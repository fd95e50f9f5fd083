"""The officers' lists (roster, applications, approved list, notices): one filter, parsed and checked in one
place (`filters.ListFilter`), read by the pages, the API and the exports alike, so a download holds the rows
the screen shows, in every page."""
