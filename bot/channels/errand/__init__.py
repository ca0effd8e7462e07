"""The errand channel: files each new enquiry in the municipality's case system over HTTP."""
