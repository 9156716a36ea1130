package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/office"
)

// apiMakeDryRun makes a dry run of a deletion or correction in review
// and answers it.
func (s *Server) apiMakeDryRun(c echo.Context) error {
	d, err := s.office.MakeDryRun(c.Request().Context(), c.Param("id"), officerFrom(c).Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// apiDryRun answers a request's latest dry run, audited as viewed.
func (s *Server) apiDryRun(c echo.Context) error {
	d, err := s.office.DryRun(c.Request().Context(), c.Param("id"), officerFrom(c).Email)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, d)
}

// dashboardMakeDryRun makes a dry run and shows it on the request.
func (s *Server) dashboardMakeDryRun(c echo.Context) error {
	done := "dry-run"
	_, err := s.office.MakeDryRun(c.Request().Context(), c.Param("id"), officerFrom(c).Email)
	if errors.Is(err, office.ErrStillProcessing) {
		done = "dry-run-processing"
	} else if err != nil {
		return s.requestProblem(c, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(c.Param("id"))+"?done="+done+"#dry-run")
}

// dashboardConfirm approves a deletion or correction by confirming the
// dry run the page showed: first a confirmation step on the page with
// what it will do, then the approval naming the dry run.
func (s *Server) dashboardConfirm(c echo.Context) error {
	ctx := c.Request().Context()
	id, dryRunID := c.Param("id"), c.FormValue("dry_run_id")
	if !confirmed(c) {
		d, err := s.office.DryRun(ctx, id, officerFrom(c).Email)
		if err != nil {
			return s.requestProblem(c, err, "", "")
		}
		if d.ID != dryRunID {
			return s.requestProblem(c, office.Refused("dry run %s is not the current one; a newer dry run (%s) was made since: review it and confirm that one", dryRunID, d.ID), "", "")
		}
		step := confirmStep{
			Action: "/officer/requests/" + url.PathEscape(id) + "/approve",
			Title:  "Erase the requester's data as the dry run shows?",
			Text:   "Dry run " + d.ID + ": " + d.Summary() + ". Systems reached by webhook or by hand are asked after this. This cannot be undone.",
			Button: "Yes, confirm and erase",
			Fields: []confirmField{{"dry_run_id", d.ID}},
		}
		if d.Type == domain.TypeCorrection {
			step.Title = "Write the corrected values as the dry run shows?"
			step.Button = "Yes, confirm and correct"
			step.Text = "Dry run " + d.ID + ": " + d.Summary() + ". The values before are not kept. This cannot be undone."
		}
		return s.confirmOnPage(c, step)
	}
	done := "approved"
	_, err := s.office.Confirm(ctx, id, dryRunID, officerFrom(c).Email)
	if errors.Is(err, office.ErrStillProcessing) {
		done = "processing"
	} else if err != nil {
		return s.requestProblem(c, err, "", "")
	}
	return c.Redirect(http.StatusSeeOther, "/officer/requests/"+url.PathEscape(id)+"?done="+done)
}

// dryRunOf is what the request page shows of a deletion or correction in
// review: whether approving confirms a dry run, and the latest one (its
// viewing audited).
func (s *Server) dryRunOf(c echo.Context, p *requestPage) error {
	r := p.Request
	if r.Status != domain.StatusInReview || !office.HasDryRun(r.Type) {
		return nil
	}
	ctx := c.Request().Context()
	p.DryRunRequired = s.office.DryRunRequired(ctx, r)
	if !p.DryRunRequired {
		return nil
	}
	d, err := s.office.DryRun(ctx, r.ID, officerFrom(c).Email)
	var missing *office.NotFoundError
	if errors.As(err, &missing) {
		return nil
	}
	p.DryRun = d
	return err
}
