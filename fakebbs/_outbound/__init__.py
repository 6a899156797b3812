"""The calls the BBS makes: to reps, to the auctioneer, and task completion callbacks."""
