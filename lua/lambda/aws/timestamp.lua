-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- RFC 3339 timestamps as AWS writes them (credential expirations, SSO token expiries), to and
-- from seconds since the epoch. os.time would read the fields as local time, so the calendar
-- arithmetic is done here.
local M = {}

-- Days from 1970-01-01 to the given date of the proleptic Gregorian calendar (March-based
-- years, so that the leap day comes last).
local function days_from_civil(year, month, day)
  if month <= 2 then
    year = year - 1
  end
  local era = year // 400
  local year_of_era = year - era * 400
  local day_of_year = (153 * (month > 2 and month - 3 or month + 9) + 2) // 5 + day - 1
  local day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
  return era * 146097 + day_of_era - 719468
end

local function is_leap(year)
  return year % 4 == 0 and (year % 100 ~= 0 or year % 400 == 0)
end

local DAYS_IN_MONTH = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

-- "2024-05-26T12:34:56.789Z" or "...+02:00" -> whole seconds since the epoch, or nil when the
-- text is not such a timestamp. "...UTC" is accepted too: botocore writes the expirations in
-- its credential cache with that zone name.
function M.parse(text)
  if type(text) ~= "string" then
    return nil
  end
  local year, month, day, hour, minute, second, rest =
    text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
  if not year then
    return nil
  end
  year, month, day = tonumber(year), tonumber(month), tonumber(day)
  hour, minute, second = tonumber(hour), tonumber(minute), tonumber(second)
  rest = rest:gsub("^%.%d+", "")
  local offset
  if rest == "Z" or rest == "z" or rest == "UTC" then
    offset = 0
  else
    local sign, offset_hours, offset_minutes = rest:match("^([+-])(%d%d):(%d%d)$")
    if not sign then
      return nil
    end
    offset = (tonumber(offset_hours) * 60 + tonumber(offset_minutes)) * 60
    if sign == "-" then
      offset = -offset
    end
  end
  local month_days = DAYS_IN_MONTH[month]
  if not month_days then
    return nil
  end
  if month == 2 and is_leap(year) then
    month_days = 29
  end
  -- 60 admits a leap second, which then counts as the next minute's first.
  if day < 1 or day > month_days or hour > 23 or minute > 59 or second > 60 then
    return nil
  end
  return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
end

function M.format(epoch_seconds)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", epoch_seconds)
end

return M
