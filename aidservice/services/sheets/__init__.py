"""Reading spreadsheets (CSV and XLSX) within bounds: the zip, the sheet XML, the cells."""
