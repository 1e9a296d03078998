module github.com/finflow/finflow/tests

go 1.24
