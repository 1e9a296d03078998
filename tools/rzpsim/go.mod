module github.com/finflow/finflow/tools/rzpsim

go 1.24

require github.com/razorpay/razorpay-go v1.3.3
