// Package ext stands in for Traefik's dynamic configuration extension
// module, a nested module of Traefik's repository that its released module
// replaces with a directory its zip leaves out. hack/setup-ingress.sh builds
// Traefik with this one: the two types Traefik's dynamic configuration
// embeds, empty as upstream's are.
package ext

// HTTP is embedded in dynamic.HTTPConfiguration.
type HTTP struct{}

// Router is embedded in dynamic.Router.
type Router struct{}
