package app

import (
	"strings"
	"testing"

	"github.com/dsar-project/dsar/internal/config"
)

// TestDevBannerSaysWhereMailGoes: the banner promises the outbox only
// when email really goes there.
func TestDevBannerSaysWhereMailGoes(t *testing.T) {
	var outbox, sendgrid strings.Builder
	printDevBanner(&outbox, &config.Config{BaseURL: "http://127.0.0.1:8080"}, devCredentials{})
	printDevBanner(&sendgrid, &config.Config{BaseURL: "http://127.0.0.1:8080", SendGridAPIKey: "SG.key", SendGridAPIURL: "http://127.0.0.1:9999"}, devCredentials{})
	if !strings.Contains(outbox.String(), "email goes to the outbox") || !strings.Contains(outbox.String(), "/dev/outbox") {
		t.Errorf("without SendGrid the banner does not point to the outbox:\n%s", outbox.String())
	}
	if strings.Contains(sendgrid.String(), "outbox") || !strings.Contains(sendgrid.String(), "sent through SendGrid at http://127.0.0.1:9999") {
		t.Errorf("with SENDGRID_API_KEY set the banner should say mail goes through SendGrid:\n%s", sendgrid.String())
	}
}
