-- A product's configured promotion flow (SPEC §4.6), as JSON in the shape of
-- release.created's `flow`: the flow of a release created without one.
ALTER TABLE products ADD COLUMN flow TEXT;
