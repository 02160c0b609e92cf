// In progress (issue 15).
