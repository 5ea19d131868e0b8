"""What leaves ceusdesk: shared wording, the JSON/PDF report, the audit log and saved training cases."""
