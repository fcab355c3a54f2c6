"""The demo district of `make up`: a dev chain's genesis and keys (:mod:`.devnet`) and the
city's contracts deployed and seeded on it (:mod:`.district`)."""
