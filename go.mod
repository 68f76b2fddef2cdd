module github.com/ailidani/paxi-style

go 1.26.8

require (
	github.com/anishathalye/porcupine v1.3.1 // indirect
	github.com/gorilla/mux v1.8.1 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
)
