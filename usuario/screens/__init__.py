"""The app's screens: connection, the meters list, one meter."""
