// Package controllers holds the BlueTenant reconciler: it turns one
// BlueTenant into the namespace and objects that run that client's MCP server.
package controllers
