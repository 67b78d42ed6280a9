package main

const (
	videoSDKVersion  = "2.5.0" // the version the Video SDK browser test and demo page load
	videoSDKDir      = ".cache/videosdk"
	videoSDKRegistry = "https://registry.npmjs.org/@zoom/videosdk/"
)

// fetchVideoSDK is main's one call for the Video SDK: the browser suite and
// its demo page need the package, as they need the Meeting SDK.
func fetchVideoSDK() {
	if err := ensurePackage(videoSDKRegistry, videoSDKVersion, videoSDKDir, "index.umd.js"); err != nil {
		fail("fetching the Zoom Video SDK: %v", err)
	}
}
