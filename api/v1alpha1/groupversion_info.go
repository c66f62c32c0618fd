// Package v1alpha1 holds the BlueTenant API: one hosted Blue MCP server per
// client, with the client's data kept in the client's own AWS account.
//
// +kubebuilder:object:generate=true
// +groupName=blue.superviber.com
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of BlueTenant.
	GroupVersion = schema.GroupVersion{Group: "blue.superviber.com", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this group version.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this group version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
