package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/openai"
)

// providersConfig configures the OpenAI-compatible providers served by name: each
// built-in one by --<name>-base-url and --<name>-api-key, others from a registry file.
type providersConfig struct {
	BaseURL map[string]*string
	APIKey  map[string]*string
	File    string
}

func bindProviderFlags(fs *pflag.FlagSet, c *providersConfig) {
	c.BaseURL, c.APIKey = map[string]*string{}, map[string]*string{}
	for _, v := range openai.Vendors {
		c.BaseURL[v.Name] = fs.String(v.Name+"-base-url", v.BaseURL,
			fmt.Sprintf("%s chat-completions base URL (with /v1) for %s/<model> models", v.Title, v.Name))
		help := fmt.Sprintf("API key for %s", v.Title)
		if v.KeyEnv == "" {
			help += " (local servers need none)"
		}
		c.APIKey[v.Name] = fs.String(v.Name+"-api-key", "", help)
		if v.KeyEnv != "" {
			alsoEnv(fs, v.Name+"-api-key", v.KeyEnv)
		}
	}
	fs.StringVar(&c.File, "providers-file", "", "JSON file of more OpenAI-compatible providers served as <name>/<model> (see the README)")
}

// keyHint tells a user of provider v where its key goes.
func keyHint(v openai.Vendor) string {
	hint := fmt.Sprintf("%s or --%s-api-key", envName(v.Name+"-api-key"), v.Name)
	if v.KeyEnv != "" {
		hint = v.KeyEnv + ", " + hint
	}
	return hint
}

// namedProviders builds the drivers of the built-in and registered providers.
func namedProviders(c *providersConfig) (map[string]provider.Model, error) {
	out := map[string]provider.Model{}
	add := func(v openai.Vendor, baseURL, key, hint string) error {
		m, err := openai.New(v.Config(baseURL, key, hint))
		if err != nil {
			return err
		}
		out[v.Name] = m
		return nil
	}
	for _, v := range openai.Vendors {
		if err := add(v, *c.BaseURL[v.Name], *c.APIKey[v.Name], keyHint(v)); err != nil {
			return nil, fmt.Errorf("--%s-base-url: %w", v.Name, err)
		}
	}
	if c.File == "" {
		return out, nil
	}
	regs, err := openai.LoadRegistry(c.File)
	if err != nil {
		return nil, fmt.Errorf("--providers-file: %w", err)
	}
	for _, r := range regs {
		hint := r.KeyEnv
		if hint == "" {
			hint = "api_key in " + c.File
		}
		if err := add(r.Vendor, r.BaseURL, r.APIKey, hint); err != nil {
			return nil, fmt.Errorf("--providers-file: %w", err)
		}
	}
	return out, nil
}

// providerTitles are the display names of the built-in providers, for the models list.
func providerTitles() map[string]string {
	titles := map[string]string{"anthropic": "Anthropic"}
	for _, v := range openai.Vendors {
		titles[v.Name] = v.Title
	}
	return titles
}
