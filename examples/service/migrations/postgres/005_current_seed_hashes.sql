-- The seeded users' hashes with today's parameters (N=32768 r=8 p=1), where they are still the seeds of
-- 001 (N=16384): an unknown email then costs what a known one costs, since the stand-in verification
-- runs with the parameters of new hashes. A password changed since is left alone.
UPDATE users SET password_hash = 'scrypt$32768$8$1$Qjgn_XWJRjr0xWefjE-zLw$ypZggR55V4gmXN_3O_AQelrsTb2_fXuK8Wvzxoapxz4'
  WHERE id = 1 AND password_hash = 'scrypt$16384$8$1$GIs9kHxbQLJImAlITNp9bg$PiJUY-Rh5XSiHLtfMvEZoHSDqWhomTjTj0LY7xwE1pQ';
UPDATE users SET password_hash = 'scrypt$32768$8$1$uX_hICxYetCkzM_QlpxgRQ$yrJ6LjuwPR_3uqzBiyE8AAK5XLge_L754pUtOpcGRqg'
  WHERE id = 2 AND password_hash = 'scrypt$16384$8$1$jXx58MpzwQ4bmGs4u6YOrQ$4uK1NWXjQh1zQUzbbP9oE54QPZYP-hgUfNw0xPXWHh8';
UPDATE users SET password_hash = 'scrypt$32768$8$1$PHnCVZGiTS96y9p0awn8bw$YxuQ5ST3ZCxJwvXDnbj6n62_9lDQR9p1X6nR4RWpsrA'
  WHERE id = 3 AND password_hash = 'scrypt$16384$8$1$Kb0gHLVGS-S814-uy3jE8A$F4a4aD_kerxpnRKcgf9Nbq3PDX98ZYJowjZGEZkq_J8';
