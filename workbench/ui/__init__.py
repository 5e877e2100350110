"""The command line and the Panel dashboards."""
