module github.com/tesseracard/tessera

go 1.26

require (
	filippo.io/bigmod v0.1.0
	github.com/ebfe/scard v0.0.0-20241214075232-7af069cabc25
	github.com/go-piv/piv-go/v2 v2.6.0
	github.com/google/go-tpm v0.9.8
	github.com/google/go-tpm-tools v0.4.11
	github.com/rogpeppe/go-internal v1.16.0
	github.com/spf13/cobra v1.10.2
	golang.org/x/sys v0.45.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/crypto v0.51.0 // indirect
	golang.org/x/tools v0.26.0 // indirect
)
