"""Landing: from storage events to completed folders."""
