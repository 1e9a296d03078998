// Package http is the user service's HTTP API (Fiber), as the contract
// specifies it. Each handler decodes, makes one call to the domain's
// Service, and encodes:
//
//	POST /users/create  {"name","email","phone"?} -> 201 user; 409 EMAIL_TAKEN;
//	                    422 IDEMPOTENCY_KEY_REUSED (the key's token named another sign-up)
//	GET  /users/{id}    -> 200 user; 404 USER_NOT_FOUND
//	GET  /users/all     ?limit=&cursor= -> 200 {"items":[...],"next_cursor"}
package http

import (
	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/services/user/domain"
)

// API serves the user routes.
type API struct{ svc *domain.Service }

// New returns the API over the service's use cases.
func New(svc *domain.Service) *API { return &API{svc: svc} }

// Routes registers the routes on app.
func (a *API) Routes(app *fiber.App) {
	app.Post("/users/create", a.create)
	app.Get("/users/all", a.list) // before /users/:id, which would match "all"
	app.Get("/users/:id", a.get)
}

// userJSON is the contract's user object.
type userJSON struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Email     string  `json:"email"`
	Phone     *string `json:"phone"`
	CreatedAt string  `json:"created_at"`
}

func toJSON(u domain.User) userJSON {
	out := userJSON{ID: u.ID, Name: u.Name, Email: u.Email, CreatedAt: contract.Stamp(u.CreatedAt)}
	if u.Phone != "" {
		out.Phone = &u.Phone
	}
	return out
}

type createRequest struct {
	Name  string  `json:"name"`
	Email string  `json:"email"`
	Phone *string `json:"phone"`
}

func (a *API) create(c *fiber.Ctx) error {
	var req createRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		return err
	}
	phone := ""
	if req.Phone != nil {
		phone = *req.Phone
	}
	u, err := a.svc.SignUp(c.UserContext(), req.Name, req.Email, phone, c.Get(id.HeaderIdempotencyToken))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toJSON(u))
}

func (a *API) get(c *fiber.Ctx) error {
	u, err := a.svc.Get(c.UserContext(), authz.Caller(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toJSON(u))
}

type listResponse struct {
	Items      []userJSON `json:"items"`
	NextCursor *string    `json:"next_cursor"`
}

func (a *API) list(c *fiber.Ctx) error {
	users, err := a.svc.List(c.UserContext(), authz.Caller(c), c.Query("cursor"), c.Query("limit"))
	if err != nil {
		return err
	}
	resp := listResponse{Items: make([]userJSON, 0, len(users.Users))}
	for _, u := range users.Users {
		resp.Items = append(resp.Items, toJSON(u))
	}
	if users.Next != "" {
		resp.NextCursor = &users.Next
	}
	return c.JSON(resp)
}
