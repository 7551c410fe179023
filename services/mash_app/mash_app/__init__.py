"""The deployable: one image running the six MASH services (``mash``); its composition root."""
