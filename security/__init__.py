"""Protection of client data: payload encryption and the codec server the Temporal UI decodes through."""
