"""One module per subcommand: its flags (`add_parser`) and its `run`."""
