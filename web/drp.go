package web

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/drp"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// The Data Rights Protocol's endpoints (docs/drp.md). Their bodies are
// signed messages the office opens and checks; the handlers only read
// the body, the bearer token and the answer's shape.

// drpRoutes are on only when DSAR_DRP_BUSINESS_ID names this business.
func (s *Server) drpRoutes(e *echo.Echo) {
	e.GET("/.well-known/data-rights.json", s.drpDiscovery)
	v1 := e.Group("/v1")
	v1.POST("/agent/:id", s.drpSetup)
	v1.GET("/agent/:id", s.drpAgentInfo)
	v1.POST("/data-rights-request", s.drpExercise)
	v1.GET("/data-rights-request/:id", s.drpStatus)
	v1.DELETE("/data-rights-request/:id", s.drpRevoke)
}

// isDRP: the protocol's endpoints answer in its own JSON error shape and
// check their own bodies.
func isDRP(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/v1/") || p == "/.well-known/data-rights.json"
}

// drpDiscovery is the discovery document. DRP 1.0 moved discovery to a
// directory kept by the network's operators; dsar still serves the
// document the drafts before it defined, with the business directory's
// fields beside it, so an agent can find what this business accepts.
type drpDiscovery struct {
	Version                string   `json:"version"`
	APIBase                string   `json:"api_base"`
	Actions                []string `json:"actions"`
	UserRelationships      []string `json:"user_relationships"`
	ID                     string   `json:"id"`
	Name                   string   `json:"name"`
	SupportedActions       []string `json:"supported_actions"`
	SupportedVerifications []string `json:"supported_verifications"`
	PrivacyPolicyURL       string   `json:"privacy_policy_url,omitempty"`
}

func (s *Server) drpDiscovery(c echo.Context) error {
	actions := drp.ActionNames()
	return c.JSON(http.StatusOK, drpDiscovery{
		Version: drp.Version, APIBase: s.cfg.BaseURL, Actions: actions, UserRelationships: []string{},
		ID: s.cfg.DRPBusinessID, Name: s.cfg.Organisation, SupportedActions: actions,
		SupportedVerifications: []string{"email"}, PrivacyPolicyURL: s.cfg.PrivacyNoticeURL,
	})
}

// drpErrorBody is the protocol's error state (section 3.06).
type drpErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Fatal   bool   `json:"fatal,omitempty"`
}

// drpFail answers an error in the protocol's shape: its own refusals as
// they say, the office's typed errors as everywhere else, anything else
// a 500 whose detail stays in the log.
func (s *Server) drpFail(c echo.Context, err error) error {
	var de *drp.Error
	var herr *echo.HTTPError
	body := drpErrorBody{Code: "500", Message: "internal error"}
	code := http.StatusInternalServerError
	switch {
	case errors.As(err, &de):
		code, body.Message, body.Fatal = de.Status, de.Message, de.Fatal
	case errors.As(err, &herr):
		code, body.Message = herr.Code, http.StatusText(herr.Code)
		if msg, ok := herr.Message.(string); ok {
			body.Message = msg
		}
	default:
		if pc, msg, ok := problemOf(err); ok {
			code, body.Message = pc, msg
		} else {
			s.log.Error("DRP request failed", "route", c.Path(), "error", err)
		}
	}
	body.Code = strconv.Itoa(code)
	return c.JSON(code, body)
}

// signedBody reads a signed message, at most drp.MaxBody bytes.
func signedBody(c echo.Context) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(c.Request().Body, drp.MaxBody+1))
	if err != nil {
		var herr *echo.HTTPError
		if errors.As(err, &herr) {
			return nil, err // the server's own body limit
		}
		return nil, &drp.Error{Status: http.StatusBadRequest, Message: "the body could not be read"}
	}
	if len(b) > drp.MaxBody {
		return nil, &drp.Error{Status: http.StatusRequestEntityTooLarge, Message: "a signed message is at most " + strconv.Itoa(drp.MaxBody) + " bytes"}
	}
	return b, nil
}

// drpAgent is the agent the request's bearer token names.
func (s *Server) drpAgent(c echo.Context) (*store.DRPAgent, error) {
	token, _ := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	return s.office.AgentByToken(c.Request().Context(), token)
}

// drpSetup is the pairwise key setup. Every refusal is a 403 with no
// body, as the protocol says; the agent resolves it out of band.
func (s *Server) drpSetup(c echo.Context) error {
	body, err := signedBody(c)
	if err != nil {
		return s.drpFail(c, err)
	}
	token, err := s.office.SetupAgent(c.Request().Context(), c.Param("id"), body)
	var de *drp.Error
	if errors.As(err, &de) {
		return c.NoContent(http.StatusForbidden)
	}
	if err != nil {
		return s.drpFail(c, err)
	}
	return c.JSON(http.StatusOK, map[string]string{"agent-id": c.Param("id"), "token": token})
}

// drpAgentInfo lets an agent check its token.
func (s *Server) drpAgentInfo(c echo.Context) error {
	a, err := s.drpAgent(c)
	if err != nil {
		return s.drpFail(c, err)
	}
	if a.ID != c.Param("id") {
		return s.drpFail(c, &drp.Error{Status: http.StatusForbidden, Message: "the bearer token was not issued to this agent"})
	}
	return c.JSON(http.StatusOK, map[string]any{})
}

func (s *Server) drpExercise(c echo.Context) error {
	a, err := s.drpAgent(c)
	if err != nil {
		return s.drpFail(c, err)
	}
	body, err := signedBody(c)
	if err != nil {
		return s.drpFail(c, err)
	}
	st, err := s.office.SubmitDRP(c.Request().Context(), a, body)
	if err != nil {
		return s.drpFail(c, err)
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) drpStatus(c echo.Context) error {
	a, err := s.drpAgent(c)
	if err != nil {
		return s.drpFail(c, err)
	}
	st, err := s.office.DRPRequestStatus(c.Request().Context(), a, c.Param("id"))
	if err != nil {
		return s.drpFail(c, err)
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) drpRevoke(c echo.Context) error {
	a, err := s.drpAgent(c)
	if err != nil {
		return s.drpFail(c, err)
	}
	body, err := signedBody(c)
	if err != nil {
		return s.drpFail(c, err)
	}
	st, err := s.office.RevokeDRP(c.Request().Context(), a, c.Param("id"), body)
	if err != nil {
		return s.drpFail(c, err)
	}
	return c.JSON(http.StatusOK, st)
}

// Officers' side: admins register and revoke the agents dsar trusts.

// requireAdminFor refuses officers who are not admins, saying what only
// an admin may do.
func requireAdminFor(what string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if officerFrom(c).Role != store.RoleAdmin {
				return echo.NewHTTPError(http.StatusForbidden, "Only an admin may "+what+".")
			}
			return next(c)
		}
	}
}

// agentView is an agent with its trail, as admins see it.
type agentView struct {
	store.DRPAgent
	Events []store.DRPAgentEvent `json:"events"`
}

func (s *Server) apiListAgents(c echo.Context) error {
	as, err := s.store.DRPAgents(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"agents": as})
}

func (s *Server) apiRegisterAgent(c echo.Context) error {
	var na office.NewAgent
	if err := bindJSON(c, &na); err != nil {
		return err
	}
	a, err := s.office.RegisterAgent(c.Request().Context(), na, officerFrom(c).Email)
	if err != nil {
		return err
	}
	return s.agentAnswer(c, http.StatusCreated, a)
}

func (s *Server) apiGetAgent(c echo.Context) error {
	a, err := s.store.DRPAgent(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return s.agentAnswer(c, http.StatusOK, a)
}

func (s *Server) apiRevokeAgent(c echo.Context) error {
	a, err := s.office.RevokeAgent(c.Request().Context(), c.Param("id"), officerFrom(c).Email)
	if err != nil {
		return err
	}
	return s.agentAnswer(c, http.StatusOK, a)
}

func (s *Server) agentAnswer(c echo.Context, code int, a *store.DRPAgent) error {
	es, err := s.store.DRPAgentEvents(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	return c.JSON(code, agentView{DRPAgent: *a, Events: es})
}

type agentsPage struct {
	chrome
	Agents     []agentView
	BusinessID string
	Form       office.NewAgent
	Errors     map[string]string
}

func (s *Server) agentsPage(c echo.Context, code int, p agentsPage) error {
	ctx := c.Request().Context()
	as, err := s.store.DRPAgents(ctx)
	if err != nil {
		return err
	}
	for _, a := range as {
		es, err := s.store.DRPAgentEvents(ctx, a.ID)
		if err != nil {
			return err
		}
		p.Agents = append(p.Agents, agentView{DRPAgent: a, Events: es})
	}
	p.chrome = s.chrome(c, "agents")
	p.BusinessID = s.cfg.DRPBusinessID
	return s.render(c, code, "officer/agents", p)
}

func (s *Server) dashboardAgents(c echo.Context) error {
	return s.agentsPage(c, http.StatusOK, agentsPage{})
}

func (s *Server) dashboardRegisterAgent(c echo.Context) error {
	f := office.NewAgent{ID: c.FormValue("id"), Name: c.FormValue("name"), VerifyKey: c.FormValue("verify_key")}
	_, err := s.office.RegisterAgent(c.Request().Context(), f, officerFrom(c).Email)
	errs := map[string]string{}
	if formProblems(errs, err, nil) {
		return s.agentsPage(c, http.StatusBadRequest, agentsPage{Form: f, Errors: errs})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/officer/agents?done=agent-registered")
}

func (s *Server) dashboardRevokeAgent(c echo.Context) error {
	_, err := s.office.RevokeAgent(c.Request().Context(), c.Param("id"), officerFrom(c).Email)
	var refused *office.RefusedError
	if err != nil && !errors.As(err, &refused) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/officer/agents?done=agent-revoked")
}
