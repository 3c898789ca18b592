"""The technicians' field portal (/field/): phone-sized pages for the day's tasks, their
evidence, photos and problems, with submissions that are safe to send again."""
