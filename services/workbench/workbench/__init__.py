"""The hub workbench: GOV.UK-styled web pages for the people of the hub, on the services' APIs."""
