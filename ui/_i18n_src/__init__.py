"""Source table of the GUI catalogues (resources/translations/*/ui.json)."""
