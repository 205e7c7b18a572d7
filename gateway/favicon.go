package gateway

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"net/http"

	"github.com/labstack/echo/v4"
)

// The gateway's icon: a parcel on the tracking page's blue. Browsers ask
// for /favicon.ico on every page of the origin (a 404 otherwise fills their
// consoles and logs); the tracking page links the SVG, which scales.

// faviconSVG is the icon as SVG.
const faviconSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">` +
	`<rect width="32" height="32" rx="6" fill="#0b4f8a"/>` +
	`<path d="M7 11l9-4 9 4v10l-9 4-9-4z" fill="#fff"/>` +
	`<path d="M7 11l9 4 9-4M16 15v10" fill="none" stroke="#0b4f8a" stroke-width="1.5"/></svg>`

// faviconICO is the icon as a 32×32 ICO file holding one PNG image (a form
// every browser of the last decade reads).
var faviconICO = func() []byte {
	const n = 32
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	blue := color.NRGBA{0x0b, 0x4f, 0x8a, 0xff}
	for y := range n {
		for x := range n {
			c := blue
			// The parcel: a white box with a blue band.
			if x >= 8 && x < 24 && y >= 9 && y < 24 {
				c = color.NRGBA{0xff, 0xff, 0xff, 0xff}
				if x == 15 || x == 16 || y == 13 {
					c = blue
				}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, img); err != nil {
		panic(err)
	}
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	le([3]uint16{0, 1, 1})                      // reserved, type icon, one image
	le([4]uint8{n, n, 0, 0})                    // width, height, no palette, reserved
	le([2]uint16{1, 32})                        // colour planes, bits per pixel
	le([2]uint32{uint32(pngBuf.Len()), 6 + 16}) // image size, offset
	b.Write(pngBuf.Bytes())
	return b.Bytes()
}()

// handleFavicon serves a fixed icon, cacheable for a day.
func handleFavicon(contentType string, body []byte) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=86400")
		return c.Blob(http.StatusOK, contentType, body)
	}
}
