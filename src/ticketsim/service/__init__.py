"""The REST API and web page (``ticketsim serve``): :func:`ticketsim.service.app.create_app`."""
