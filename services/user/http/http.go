// Package http is the user service's HTTP API (Fiber), as the contract
// specifies it:
//
//	POST /users/create  {"name","email","phone"?} -> 201 user; 409 EMAIL_TAKEN
//	GET  /users/{id}    -> 200 user; 404 USER_NOT_FOUND
//	GET  /users/all     ?limit=&cursor= -> 200 {"items":[...],"next_cursor"}
package http

import (
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/settings"
	"github.com/finflow/finflow/services/user/domain"
)

// Runtime settings of the user service (configuration store keys).
const (
	SettingListDefaultLimit = "users.list.default_limit"
	SettingListMaxLimit     = "users.list.max_limit"
)

// Settings declares the user service's runtime settings and their defaults.
var Settings = []settings.Int{
	{Key: SettingListDefaultLimit, Default: 50, Min: 1, Max: 1000},
	{Key: SettingListMaxLimit, Default: 200, Min: 1, Max: 1000},
}

// API serves the user routes.
type API struct {
	users    domain.Store
	settings *settings.Settings
	log      *slog.Logger
	now      func() time.Time
}

// New returns the API over users.
func New(users domain.Store, s *settings.Settings, log *slog.Logger) *API {
	return &API{users: users, settings: s, log: log, now: time.Now}
}

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
	out := userJSON{ID: u.ID, Name: u.Name, Email: u.Email, CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339Nano)}
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
	u, err := domain.NewUser(req.Name, req.Email, phone, a.now())
	if err != nil {
		return err
	}
	if token := c.Get(id.HeaderIdempotencyToken); token != "" {
		// A keyed sign-up always proposes the same id, so its retry finds
		// its own user instead of EMAIL_TAKEN.
		u.ID = id.Derive(id.User, token)
	}
	u, err = a.users.Create(c.UserContext(), u)
	if err != nil {
		return err
	}
	server.Log(c, a.log).Info("user created", "user_id", u.ID)
	return c.Status(fiber.StatusCreated).JSON(toJSON(u))
}

func (a *API) get(c *fiber.Ctx) error {
	uid := c.Params("id")
	if !id.Valid(id.User, uid) {
		return domain.ErrUserNotFound
	}
	// The wallet and billing services look users up for their own checks.
	if err := authz.OwnerOrApp(c, uid, "wallet", "billing"); err != nil {
		return err
	}
	u, err := a.users.Get(c.UserContext(), uid)
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
	if err := authz.Admin(c); err != nil {
		return err
	}
	limit, err := page.Limit(c.Query("limit"), a.settings.Get(SettingListDefaultLimit), a.settings.Get(SettingListMaxLimit))
	if err != nil {
		return err
	}
	users, err := a.users.List(c.UserContext(), c.Query("cursor"), limit)
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
