package console

import (
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// provisioningFile is what `doorlock provision` reads (it ignores the MQTT
// fields), plus what an online lock needs to reach its broker.
type provisioningFile struct {
	*lockproto.Provisioning
	MQTTURL      string `json:"mqtt_url,omitempty"`
	MQTTUsername string `json:"mqtt_username,omitempty"`
	MQTTPassword string `json:"mqtt_password,omitempty"`
}

type provisionedData struct {
	Door       domain.Door
	Generation int
	FileName   string
	StateDir   string
	File       string
	// Download is the file as a data: URL, so the one response that holds
	// the secrets is also the download: nothing is kept to fetch again.
	Download template.URL
	Online   bool
	MQTTURL  string
}

// doorProvision provisions (or re-provisions) the lock of a door (Device
// Management) and shows its provisioning file once. The file holds the
// lock's private keys and MQTT password: it exists only in this POST's
// answer, which no cache may keep; re-provisioning makes new keys and
// invalidates the old device.
func (c *Console) doorProvision(w http.ResponseWriter, r *http.Request, rq *request) error {
	if c.opts.DoorSync == nil {
		return domain.Errorf(domain.EConflict, "this server does not provision locks (Door Sync is not running)")
	}
	ctx := r.Context()
	door, err := c.store.Door(ctx, rq.Actor, rq.Property.ID, r.PathValue("d"))
	if err != nil {
		return err
	}
	out, err := c.opts.DoorSync.Provision(ctx, rq.Actor, rq.Property.ID, door.ID)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(provisioningFile{Provisioning: out.Provisioning, MQTTURL: out.MQTTURL,
		MQTTUsername: out.MQTTUsername, MQTTPassword: out.MQTTPassword}, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	name := "lock-" + slug(door.Name)
	d := provisionedData{Door: door, Generation: out.Generation, FileName: name + ".json", StateDir: name, File: string(b),
		Download: template.URL("data:application/json;base64," + base64.StdEncoding.EncodeToString(b)),
		Online:   out.Connectivity == domain.Online, MQTTURL: out.MQTTURL}
	h := w.Header()
	h.Set("Cache-Control", "no-store, max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "0")
	c.render(w, r, rq, http.StatusOK, "door_provisioned", "Lock provisioned", "doors", d)
	return nil
}

// slug makes a file-name-safe lower-case name.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if out == "" {
		return "door"
	}
	return out
}
