"""What a test steers and reads: seeding, faults and holds, the journal of calls, selectors,
and saved state."""
