-- wrk script of scripts/bench.py: POST /orders with valid orders (dine-in, takeout, delivery in
-- turn, three priorities), count the answers that are not 2xx, and print one JSON line at the end.
-- With a file after `--`, the bodies are that file's lines instead (the slots phase's menu orders).
--   wrk -t2 -c10 -d15s -s scripts/bench_orders.lua http://127.0.0.1:8000/orders
--   wrk -t2 -c10 -d15s -s scripts/bench_orders.lua http://127.0.0.1:8000/orders -- /tmp/bodies.jsonl

local bodies = {
  '{"customer_name": "Jane Doe", "order_type": "takeout", "items": [{"name": "Margherita Pizza", "quantity": 1, "price": 15.99}]}',
  '{"customer_name": "John O\'Neil", "order_type": "dine_in", "table_number": 12, "items": [{"name": "Lasagna", "quantity": 2, "price": 18.50}, {"name": "Tiramisu", "quantity": 2, "price": 7.25}]}',
  '{"customer_name": "Anna-Maria Ivanova", "order_type": "delivery", "delivery_address": "12 Baker Street, London", "items": [{"name": "Family Feast", "quantity": 3, "price": 39.90}]}',
}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non_2xx = 0
  requests = {}
  if args[1] then
    bodies = {}
    for line in io.lines(args[1]) do
      if line ~= "" then
        table.insert(bodies, line)
      end
    end
  end
  local path = wrk.path
  for i, body in ipairs(bodies) do
    requests[i] = wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
  end
  turn = 0
end

function request()
  turn = turn % #requests + 1
  return requests[turn]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  end
end

function done(summary, latency, requests)
  local total_non_2xx = 0
  for _, thread in ipairs(threads) do
    total_non_2xx = total_non_2xx + thread:get("non_2xx")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"duration_us": %d, "requests": %d, "non_2xx": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.duration, summary.requests, total_non_2xx, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max
  ))
end
