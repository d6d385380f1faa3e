"""CrowdGUI's Qt application: windows, canvas, dialogs and the background-job runner. Qt lives only here."""
