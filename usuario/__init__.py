"""usuario: monitor-energia's terminal app (Textual) and 004's numbered menu, on one API client."""
