package domain_test

import "github.com/finflow/finflow/platform/money"

func moneyAmount(p int64) money.Amount { return money.Amount(p) }
