"""One module per subcommand: its flags (`add_parser`) and how they become its config and run (`main`)."""
