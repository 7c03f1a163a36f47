"""The declaration editor (tabs, completion, validation as you type, autosave, undo)."""

from ui.editor.window import EditorWindow

__all__ = ["EditorWindow"]
