-- The reference service's schema and seed: the TechEmpower World and Fortune tables, and a few users.

CREATE TABLE world (
  id INTEGER PRIMARY KEY,
  randomnumber INTEGER NOT NULL
);

-- 10,000 rows, each with a random number from 1 to 10,000.
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 10000)
INSERT INTO world (id, randomnumber) SELECT n, 1 + abs(random()) % 10000 FROM seq;

CREATE TABLE fortune (
  id INTEGER PRIMARY KEY,
  message TEXT NOT NULL
);

INSERT INTO fortune (id, message) VALUES
  (1, 'fortune: No such file or directory'),
  (2, 'A computer scientist is someone who fixes things that aren''t broken.'),
  (3, 'After enough decimal places, nobody gives a damn.'),
  (4, 'A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1'),
  (5, 'A computer program does what you tell it to do, not what you want it to do.'),
  (6, 'Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen'),
  (7, 'Any program that runs right is obsolete.'),
  (8, 'A list is only as strong as its weakest link. — Donald Knuth'),
  (9, 'Feature: A bug with seniority.'),
  (10, 'Computers make very fast, very accurate mistakes.'),
  (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
  (12, 'フレームワークのベンチマーク');

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Passwords: alice-password, bob-password, carol-password (scrypt, N=16384 r=8 p=1, 32-byte key).
INSERT INTO users (id, name, email, password_hash) VALUES
  (1, 'Alice', 'alice@example.com', 'scrypt$16384$8$1$GIs9kHxbQLJImAlITNp9bg$PiJUY-Rh5XSiHLtfMvEZoHSDqWhomTjTj0LY7xwE1pQ'),
  (2, 'Bob', 'bob@example.com', 'scrypt$16384$8$1$jXx58MpzwQ4bmGs4u6YOrQ$4uK1NWXjQh1zQUzbbP9oE54QPZYP-hgUfNw0xPXWHh8'),
  (3, 'Carol', 'carol@example.com', 'scrypt$16384$8$1$Kb0gHLVGS-S814-uy3jE8A$F4a4aD_kerxpnRKcgf9Nbq3PDX98ZYJowjZGEZkq_J8');
