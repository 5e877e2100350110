"""What the firm holds: the field inventory, linking parties into subjects, the flows to processors,
the mailbox and web logs per subject, the data map export."""
