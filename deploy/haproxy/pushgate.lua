-- pushgate.lua: the canonical grouping key of a pushgate push URL, as an
-- HAProxy sample fetch, so that `balance hash lua.pushgate_key` sends every
-- spelling of one group to the same shard (README, "Scaling out").
--
-- The key is decoded exactly as pushgate decodes a push path: split on "/",
-- percent-decode each segment, then the route prefix, "metrics", "job" or
-- "job@base64", the job, and name/value pairs; "@base64" values (base64url,
-- any "=" padding, a lone "=" for empty); the last of repeated names wins;
-- a "job" pair is overridden by the job segment; names sorted bytewise.
-- The result is upstream's string form of a grouping key: name 0xFF value,
-- joined by 0xFF. A push path pushgate would refuse (bad escape, bad
-- base64, odd number of segments) yields its raw path instead, so it still
-- goes to one shard, which answers with pushgate's own 4xx.
--
-- Fetches (arguments: route prefix, "/" for none; "utf8" when the shards
-- run with --push.enable-utf8-names, so U__-escaped names are undone):
--   lua.pushgate_key[(prefix[,utf8])]    the key, or the raw path
--   lua.pushgate_route[(prefix)]         "push" for a push path, else "other"
--
-- Plain Lua 5.3 (HAProxy's); runs outside HAProxy too, where the file
-- returns the module table instead of registering fetches.

local M = {}

local B64 = {}
do
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
  for i = 1, #alphabet do
    B64[alphabet:byte(i)] = i - 1
  end
end

-- Percent-decodes one segment; nil if an escape is not "%" and two hex digits.
function M.percent_decode(s)
  if not s:find("%", 1, true) then
    return s
  end
  local bad = false
  local out = s:gsub("%%(.?.?)", function(h)
    if #h == 2 and h:match("^%x%x$") then
      return string.char(tonumber(h, 16))
    end
    bad = true
    return ""
  end)
  if bad then
    return nil
  end
  return out
end

-- Base64url after removing every trailing "=" (so padded, unpadded and a
-- lone "=" for empty all decode); nil if not base64url.
function M.b64url_decode(s)
  s = s:gsub("=+$", "")
  if #s % 4 == 1 then
    return nil
  end
  local out = {}
  local acc, bits = 0, 0
  for i = 1, #s do
    local v = B64[s:byte(i)]
    if not v then
      return nil
    end
    acc = (acc << 6) | v
    bits = bits + 6
    if bits >= 8 then
      bits = bits - 8
      out[#out + 1] = string.char((acc >> bits) & 0xFF)
      acc = acc & ((1 << bits) - 1)
    end
  end
  return table.concat(out)
end

-- Undoes U__ escaping of UTF-8 label names (U__foo_2e_bar -> foo.bar,
-- __ -> _); a malformed escape leaves the whole name as written.
function M.unescape_name(name)
  if name:sub(1, 3) ~= "U__" then
    return name
  end
  local body = name:sub(4)
  local out = {}
  local i = 1
  while i <= #body do
    local c = body:sub(i, i)
    if c ~= "_" then
      out[#out + 1] = c
      i = i + 1
    elseif body:sub(i + 1, i + 1) == "_" then
      out[#out + 1] = "_"
      i = i + 2
    else
      local j = body:find("_", i + 1, true)
      if not j then
        return name
      end
      local hex = body:sub(i + 1, j - 1)
      if #hex == 0 or #hex > 6 or not hex:match("^%x+$") then
        return name
      end
      local cp = tonumber(hex, 16)
      if cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then
        return name
      end
      out[#out + 1] = utf8.char(cp)
      i = j + 1
    end
  end
  return table.concat(out)
end

-- Bytewise order (Lua's < follows the C locale's collation).
local function bytes_less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end

local function split(path)
  local segments = {}
  for seg in (path .. "/"):gmatch("([^/]*)/") do
    segments[#segments + 1] = seg
  end
  return segments
end

local function normalize_prefix(prefix)
  prefix = (prefix or ""):gsub("/+$", "")
  if prefix ~= "" and prefix:sub(1, 1) ~= "/" then
    prefix = "/" .. prefix
  end
  return prefix
end

-- Decoded segments of a push path after "<prefix>/metrics/job[@base64]",
-- and whether the job is base64; nil if the path is not a push path.
local function push_segments(path, prefix)
  local raw = split(path)
  if raw[1] ~= "" then
    return nil
  end
  local want = split(normalize_prefix(prefix))
  local at = #want + 1
  for i = 2, #want do
    if M.percent_decode(raw[i] or "") ~= want[i] then
      return nil
    end
  end
  if M.percent_decode(raw[at] or "") ~= "metrics" then
    return nil
  end
  local route = M.percent_decode(raw[at + 1] or "")
  if route ~= "job" and route ~= "job@base64" then
    return nil
  end
  local rest = {}
  for i = at + 2, #raw do
    rest[#rest + 1] = raw[i]
  end
  return rest, route == "job@base64"
end

-- "push" if path is a push path below prefix, else "other".
function M.route(path, prefix)
  if push_segments(path, prefix) then
    return "push"
  end
  return "other"
end

-- The grouping key of a push path as a sorted list of {name, value}, or
-- nil if pushgate would refuse the path.
function M.labels(path, prefix, utf8_names)
  local rest, job_b64 = push_segments(path, prefix)
  if not rest or #rest == 0 then
    return nil
  end
  local seg = {}
  for i, s in ipairs(rest) do
    seg[i] = M.percent_decode(s)
    if not seg[i] then
      return nil
    end
  end
  local job = seg[1]
  if job_b64 then
    job = M.b64url_decode(job)
    if not job then
      return nil
    end
  end
  -- "/j/" (a trailing slash after the job) has no labels.
  local n = #seg
  if n == 2 and seg[2] == "" then
    n = 1
  end
  if (n - 1) % 2 ~= 0 then
    return nil
  end
  local values, names = {}, {}
  for i = 2, n, 2 do
    local name, value = seg[i], seg[i + 1]
    local plain = name:match("^(.*)@base64$")
    if plain then
      name = plain
      value = M.b64url_decode(value)
      if not value then
        return nil
      end
    end
    if utf8_names then
      name = M.unescape_name(name)
    end
    if name ~= "job" then
      if values[name] == nil then
        names[#names + 1] = name
      end
      values[name] = value
    end
  end
  if job == "" then
    return nil
  end
  if values["job"] == nil then
    names[#names + 1] = "job"
  end
  values["job"] = job
  table.sort(names, bytes_less)
  local labels = {}
  for i, name in ipairs(names) do
    labels[i] = { name, values[name] }
  end
  return labels
end

-- The routing key: name 0xFF value joined by 0xFF, or the raw path.
function M.key(path, prefix, utf8_names)
  local labels = M.labels(path, prefix, utf8_names)
  if not labels then
    return path
  end
  local parts = {}
  for i, l in ipairs(labels) do
    parts[i] = l[1] .. "\xff" .. l[2]
  end
  return table.concat(parts, "\xff")
end

if core and core.register_fetches then
  core.register_fetches("pushgate_key", function(txn, prefix, mode)
    return M.key(txn.sf:path() or "", prefix, mode == "utf8")
  end)
  core.register_fetches("pushgate_route", function(txn, prefix)
    return M.route(txn.sf:path() or "", prefix)
  end)
end

return M
