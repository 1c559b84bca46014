package doorsync

import (
	"context"
	"encoding/base64"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// PhoneReport is what a resident's phone brought back from a lock over
// BLE: its signed ack and signed event batches, base64 as the app sends
// them (POST /api/v1/me/sync-reports).
type PhoneReport struct {
	DoorID string   `json:"door_id"`
	Ack    string   `json:"ack"`
	Events []string `json:"events"`
}

// MaxReportBatches is how many event batches one report may carry.
const MaxReportBatches = 64

// Check refuses a report with no door, nothing in it, or too many batches.
func (p PhoneReport) Check() error {
	if p.DoorID == "" {
		return domain.FieldError("door_id", "is required")
	}
	if p.Ack == "" && len(p.Events) == 0 {
		return domain.FieldError("ack", "send an ack or event batches")
	}
	if len(p.Events) > MaxReportBatches {
		return domain.FieldError("events", "at most %d batches per report", MaxReportBatches)
	}
	return nil
}

// PhoneReportResult is what became of a report's ack and batches.
type PhoneReportResult struct {
	DoorID string            `json:"door_id"`
	Ack    *store.AckResult  `json:"ack"`
	Events []store.LogResult `json:"events"`
}

// HandlePhoneReport verifies and records a checked report's ack and event
// batches; via names who carried them (the Activity entries say so).
func (s *Service) HandlePhoneReport(ctx context.Context, p PhoneReport, via string) (PhoneReportResult, error) {
	out := PhoneReportResult{DoorID: p.DoorID, Events: []store.LogResult{}}
	if p.Ack != "" {
		raw, err := base64.StdEncoding.DecodeString(p.Ack)
		if err != nil {
			return out, domain.FieldError("ack", "must be base64")
		}
		a, err := s.HandleAck(ctx, p.DoorID, raw, via)
		if err != nil {
			return out, err
		}
		out.Ack = &a
	}
	for i, e := range p.Events {
		raw, err := base64.StdEncoding.DecodeString(e)
		if err != nil {
			return out, domain.FieldError("events", "batch %d must be base64", i)
		}
		lr, err := s.HandleEvents(ctx, p.DoorID, raw, via)
		if err != nil {
			return out, err
		}
		out.Events = append(out.Events, lr)
	}
	return out, nil
}
