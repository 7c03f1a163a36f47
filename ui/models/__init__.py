"""Qt item models over the store and the editor's working document (no widgets here)."""
