-- Argo CD health check for blue.superviber.com/BlueTenant.
--
-- Argo CD runs it with the live object as the global `obj` and reads the
-- returned hs.status and hs.message. Checks from argocd-cm get only Lua's
-- base and table libraries (no string library), so nothing here calls
-- string functions. argocd-cm.yaml embeds this exact text; test/argocd runs
-- it against tenants the real reconciler produced and fails when the two
-- copies differ.
hs = {}

local function findCondition(conditions, conditionType)
  for _, c in ipairs(conditions) do
    if type(c) == "table" and c.type == conditionType then
      return c
    end
  end
  return nil
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

-- messageOf is the condition's message, else its reason, else fallback.
local function messageOf(c, fallback)
  if c ~= nil and type(c.message) == "string" and c.message ~= "" then
    return c.message
  end
  if c ~= nil and type(c.reason) == "string" and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local status = obj.status
if type(status) ~= "table" or type(status.conditions) ~= "table" or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for blue-operator to reconcile the tenant"
  return hs
end

-- Conditions written for an older spec say nothing about the current one.
local generation = nil
if type(obj.metadata) == "table" then
  generation = obj.metadata.generation
end
if type(generation) == "number" and (type(status.observedGeneration) ~= "number" or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for blue-operator to observe generation " .. generation
  return hs
end

local ready = findCondition(status.conditions, "Ready")
local progressing = findCondition(status.conditions, "Progressing")
local degraded = findCondition(status.conditions, "Degraded")

-- A person must act (NamespaceConflict, HopRoleUnset) or the API refuses
-- the operator's writes (ApplyFailed): the condition's message says which.
if isTrue(degraded) then
  hs.status = "Degraded"
  hs.message = messageOf(degraded, "blue-operator reports the tenant degraded")
  return hs
end

if type(obj.spec) == "table" and obj.spec.suspend == true then
  hs.status = "Suspended"
  if ready ~= nil and ready.reason == "Suspended" then
    hs.message = messageOf(ready, "spec.suspend is true")
  else
    hs.message = "spec.suspend is true: the server is scaled to zero"
  end
  return hs
end

if isTrue(ready) then
  hs.status = "Healthy"
  hs.message = messageOf(ready, "Ready")
  return hs
end

if isTrue(progressing) then
  hs.status = "Progressing"
  hs.message = messageOf(progressing, "Rolling out")
  return hs
end

-- Not serving, nothing rolling out and nothing reported degraded.
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = messageOf(ready, "The tenant is not ready")
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
