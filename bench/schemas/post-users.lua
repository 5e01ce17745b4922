-- wrk script of the schema benchmark (bench/schemas.mjs): every request is POST /users with the same
-- JSON body, bench/schemas/data.mjs's NEW_USER (the runner checks that the two agree before it runs).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"Ada Lovelace","email":"ada@example.com","age":36,"tags":["math","engines","poetry"]}'
