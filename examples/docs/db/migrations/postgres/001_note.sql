CREATE TABLE note (
  id serial PRIMARY KEY,
  title text NOT NULL UNIQUE
);
