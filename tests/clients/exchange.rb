# A GitHub OAuth code-for-token exchange with Ruby's Net::HTTP, for
# tests/integration/test_runtime_ruby_go.py. Net::HTTP.new takes its proxy
# from http_proxy (for https too) and OpenSSL its CA from SSL_CERT_FILE,
# both printed by oauthlens --env.
#
#   ruby exchange.rb URL FORM
#
# Prints one JSON object: status, headers [[name, value]...], body_b64,
# error.
require "json"
require "net/http"
require "uri"

url, form = ARGV
out = { status: -1, headers: [], body_b64: "", error: nil }
begin
  uri = URI(url)
  http = Net::HTTP.new(uri.host, uri.port)
  http.use_ssl = true
  http.open_timeout = http.read_timeout = 30
  req = Net::HTTP::Post.new(uri)
  req["Accept"] = "application/json"
  req["Content-Type"] = "application/x-www-form-urlencoded"
  req.body = form
  res = http.request(req)
  out[:status] = res.code.to_i
  res.to_hash.each { |k, vs| vs.each { |v| out[:headers] << [k, v] } }
  out[:body_b64] = [res.body || ""].pack("m0")
rescue StandardError => e
  out[:error] = "#{e.class}: #{e.message}"
end
puts JSON.generate(out)
